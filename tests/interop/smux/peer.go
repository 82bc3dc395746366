// Command peer is the xtaci/smux side of dost's smux interop test.
//
//	peer -mode server -version 2            listen, echo every stream, exit after -sessions sessions
//	peer -mode client -addr H:P -streams 8  open streams, send -size bytes each, check the echo
//
// Output is line based: the server prints "LISTEN <addr>" once ready and
// "DONE sessions=… streams=… bytes=…" before exiting; the client prints
// "OK streams=… bytes=…" or "FAIL <reason>" (exit status 1).
package main

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtaci/smux"
)

func main() {
	mode := flag.String("mode", "server", "server or client")
	addr := flag.String("addr", "127.0.0.1:0", "listen (server) or dial (client) address")
	version := flag.Int("version", 1, "smux protocol version (1 or 2)")
	streams := flag.Int("streams", 4, "client: concurrent streams to open")
	size := flag.Int("size", 1<<20, "client: bytes to send (and expect back) per stream")
	sessions := flag.Int("sessions", 1, "server: exit after this many sessions ended")
	keepalive := flag.Duration("keepalive", 0, "keepalive interval (timeout is 3x); 0 keeps smux's default")
	idle := flag.Duration("idle", 0, "client: stay idle this long before opening streams")
	flag.Parse()

	cfg := smux.DefaultConfig()
	cfg.Version = *version
	if *keepalive > 0 {
		cfg.KeepAliveInterval = *keepalive
		cfg.KeepAliveTimeout = 3 * *keepalive
	}
	if err := smux.VerifyConfig(cfg); err != nil {
		fail("config: %v", err)
	}

	switch *mode {
	case "server":
		serve(*addr, cfg, *sessions)
	case "client":
		client(*addr, cfg, *streams, *size, *idle)
	default:
		fail("unknown mode %q", *mode)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func serve(addr string, cfg *smux.Config, sessions int) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail("listen: %v", err)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	var nStreams, nBytes int64
	for i := 0; i < sessions; i++ {
		conn, err := ln.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		sess, err := smux.Server(conn, cfg)
		if err != nil {
			fail("session: %v", err)
		}
		var wg sync.WaitGroup
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				break // the client went away: session over
			}
			atomic.AddInt64(&nStreams, 1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer st.Close()
				n, _ := io.Copy(st, st)
				atomic.AddInt64(&nBytes, n)
			}()
		}
		sess.Close()
		wg.Wait()
	}
	fmt.Printf("DONE sessions=%d streams=%d bytes=%d\n", sessions, nStreams, nBytes)
}

func client(addr string, cfg *smux.Config, streams, size int, idle time.Duration) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		fail("dial: %v", err)
	}
	sess, err := smux.Client(conn, cfg)
	if err != nil {
		fail("session: %v", err)
	}
	defer sess.Close()
	if idle > 0 {
		time.Sleep(idle)
		if sess.IsClosed() {
			fail("session closed while idle")
		}
	}
	errs := make(chan error, streams)
	for i := 0; i < streams; i++ {
		go func(i int) { errs <- roundTrip(sess, i, size) }(i)
	}
	for i := 0; i < streams; i++ {
		if err := <-errs; err != nil {
			fail("stream %d: %v", i, err)
		}
	}
	fmt.Printf("OK streams=%d bytes=%d\n", streams, streams*size)
}

// roundTrip writes size pseudo-random bytes while reading the echo, compares
// digests, then closes the stream (smux has no half-close).
func roundTrip(sess *smux.Session, seed, size int) error {
	st, err := sess.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	data := make([]byte, size)
	rand.New(rand.NewSource(int64(seed + 1))).Read(data)
	werr := make(chan error, 1)
	go func() {
		// Odd-sized writes so frames and reads do not line up.
		for off := 0; off < len(data); {
			end := off + 50000 + seed*1000
			if end > len(data) {
				end = len(data)
			}
			if _, err := st.Write(data[off:end]); err != nil {
				werr <- err
				return
			}
			off = end
		}
		werr <- nil
	}()
	got := make([]byte, size)
	st.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.ReadFull(st, got); err != nil {
		return fmt.Errorf("read echo: %v", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %v", err)
	}
	a, b := sha256.Sum256(data), sha256.Sum256(got)
	if !bytes.Equal(a[:], b[:]) {
		return fmt.Errorf("echo differs")
	}
	return nil
}
