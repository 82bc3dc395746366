// Command peer is the Go side of dost's ws/wss/mws/mwss interop test, built
// on the two libraries GOST itself uses for these transports:
// gorilla/websocket and xtaci/smux.
//
//	peer -mode server [-mux] [-tls -cert C -key K] [-path /ws]
//	    serve WebSocket upgrades at -path; echo the WebSocket byte stream
//	    (or, with -mux, every smux stream of the session on it)
//	peer -mode client -addr H:P [-mux] [-tls] [-streams N] [-size S]
//	    dial one WebSocket; send S bytes (on each of N smux streams with
//	    -mux) and check the echo
//
// Like GOST, every write is one binary message and reads concatenate the
// payloads of all data messages. Output is line based: the server prints
// "LISTEN <addr>" once ready and "REQ path=… host=… ua=…" per upgrade; the
// client prints "OK streams=… bytes=…" or "FAIL <reason>" (exit status 1).
package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/xtaci/smux"
)

// stream is a WebSocket as a byte stream.
type stream struct {
	c   *websocket.Conn
	r   io.Reader
	wmu sync.Mutex
}

func (s *stream) Read(p []byte) (int, error) {
	for {
		if s.r == nil {
			_, r, err := s.c.NextReader()
			if err != nil {
				return 0, err
			}
			s.r = r
		}
		n, err := s.r.Read(p)
		if err == io.EOF {
			s.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (s *stream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *stream) Close() error { return s.c.Close() }

func main() {
	mode := flag.String("mode", "server", "server or client")
	addr := flag.String("addr", "127.0.0.1:0", "listen (server) or dial (client) address")
	path := flag.String("path", "/ws", "request path")
	useMux := flag.Bool("mux", false, "run an smux session over the WebSocket (mws)")
	useTLS := flag.Bool("tls", false, "TLS under the WebSocket (wss); the client verifies nothing, as GOST")
	cert := flag.String("cert", "", "server: certificate file (with -tls)")
	key := flag.String("key", "", "server: key file (with -tls)")
	version := flag.Int("version", 1, "smux protocol version")
	streams := flag.Int("streams", 1, "client: concurrent smux streams")
	size := flag.Int("size", 1<<20, "client: bytes to send and expect back per stream")
	flag.Parse()

	cfg := smux.DefaultConfig()
	cfg.Version = *version
	if *mode == "server" {
		serve(*addr, *path, *useMux, *useTLS, *cert, *key, cfg)
		return
	}
	dial(*addr, *path, *useMux, *useTLS, *streams, *size, cfg)
}

func serve(addr, path string, useMux, useTLS bool, cert, key string, cfg *smux.Config) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail("listen: %v", err)
	}
	if useTLS {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			fail("certificate: %v", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}})
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			fmt.Printf("UPGRADE-FAILED %v\n", err)
			return
		}
		fmt.Printf("REQ path=%s host=%s ua=%q\n", r.URL.Path, r.Host, r.UserAgent())
		s := &stream{c: c}
		defer s.Close()
		if !useMux {
			io.Copy(s, s)
			return
		}
		sess, err := smux.Server(s, cfg)
		if err != nil {
			fmt.Printf("SMUX-FAILED %v\n", err)
			return
		}
		defer sess.Close()
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				return
			}
			go func() {
				io.Copy(st, st)
				st.Close()
			}()
		}
	})
	fmt.Printf("LISTEN %s\n", ln.Addr())
	http.Serve(ln, mux)
}

func dial(addr, path string, useMux, useTLS bool, streams, size int, cfg *smux.Config) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	scheme := "ws"
	if useTLS {
		scheme = "wss"
		d.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	c, _, err := d.Dial(scheme+"://"+addr+path, nil)
	if err != nil {
		fail("dial: %v", err)
	}
	s := &stream{c: c}
	defer s.Close()
	if !useMux {
		if err := roundTrip(s, size, 1); err != nil {
			fail("%v", err)
		}
		fmt.Printf("OK streams=1 bytes=%d\n", size)
		return
	}
	sess, err := smux.Client(s, cfg)
	if err != nil {
		fail("smux: %v", err)
	}
	defer sess.Close()
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, err := sess.OpenStream()
			if err != nil {
				errs <- err
				return
			}
			defer st.Close()
			if err := roundTrip(st, size, int64(i+1)); err != nil {
				errs <- fmt.Errorf("stream %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fail("%v", err)
	}
	fmt.Printf("OK streams=%d bytes=%d\n", streams, streams*size)
}

// roundTrip sends size pseudo-random bytes and checks that the same bytes come back.
func roundTrip(rw io.ReadWriter, size int, seed int64) error {
	data := make([]byte, size)
	rand.New(rand.NewSource(seed)).Read(data)
	werr := make(chan error, 1)
	go func() {
		for off := 0; off < size; off += 64 << 10 {
			end := off + 64<<10
			if end > size {
				end = size
			}
			if _, err := rw.Write(data[off:end]); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	got := make([]byte, size)
	if _, err := io.ReadFull(rw, got); err != nil {
		return fmt.Errorf("read: %v", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %v", err)
	}
	if a, b := sha256.Sum256(data), sha256.Sum256(got); !bytes.Equal(a[:], b[:]) {
		return fmt.Errorf("echo differs")
	}
	return nil
}

func fail(format string, args ...any) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}
