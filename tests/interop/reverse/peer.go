// Command peer is an independent Go implementation of both ends of GOST's
// reverse tunnel (relay BIND / SOCKS5 MBIND carried over xtaci/smux with the
// roles inverted), written from dost's spec for the interop test.
//
//	peer -mode client -server H:P -bind 127.0.0.1:PORT -target 127.0.0.1:T [-proto relay|socks5]
//	    binds PORT on the server, serves each carried stream by dialing T; prints "BOUND <addr>"
//	peer -mode server [-listen 127.0.0.1:0]
//	    a relay server with bind enabled; prints "LISTEN <addr>", then "BOUND <addr>" per bind
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/xtaci/smux"
)

func main() {
	mode := flag.String("mode", "client", "client or server")
	server := flag.String("server", "", "client: the proxy server")
	bind := flag.String("bind", "", "client: address to bind on the server")
	target := flag.String("target", "", "client: local service for carried connections")
	proto := flag.String("proto", "relay", "client: relay or socks5")
	listen := flag.String("listen", "127.0.0.1:0", "server: listen address")
	flag.Parse()

	cfg := smux.DefaultConfig() // version 1, keepalive 10 s / 30 s: GOST's defaults
	var err error
	if *mode == "client" {
		err = runClient(cfg, *server, *bind, *target, *proto)
	} else {
		err = runServer(cfg, *listen)
	}
	if err != nil {
		fmt.Println("FAIL", err)
		os.Exit(1)
	}
}

// encodeAddr writes ATYP ADDR PORT (IPv4, IPv6 or a name).
func encodeAddr(hostport string) ([]byte, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	var b []byte
	if ip := net.ParseIP(host); ip != nil && ip.To4() != nil {
		b = append([]byte{1}, ip.To4()...)
	} else if ip != nil {
		b = append([]byte{4}, ip.To16()...)
	} else {
		b = append([]byte{3, byte(len(host))}, host...)
	}
	return binary.BigEndian.AppendUint16(b, uint16(port)), nil
}

// readAddr reads ATYP ADDR PORT.
func readAddr(r io.Reader) (string, error) {
	t := make([]byte, 1)
	if _, err := io.ReadFull(r, t); err != nil {
		return "", err
	}
	var host string
	switch t[0] {
	case 1, 4:
		n := 4
		if t[0] == 4 {
			n = 16
		}
		ip := make([]byte, n)
		if _, err := io.ReadFull(r, ip); err != nil {
			return "", err
		}
		host = net.IP(ip).String()
	case 3:
		l := make([]byte, 1)
		if _, err := io.ReadFull(r, l); err != nil {
			return "", err
		}
		name := make([]byte, l[0])
		if _, err := io.ReadFull(r, name); err != nil {
			return "", err
		}
		host = string(name)
	default:
		return "", fmt.Errorf("address type %d", t[0])
	}
	p := make([]byte, 2)
	if _, err := io.ReadFull(r, p); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(p)))), nil
}

// relayFeature is one TLV: TYPE(1) LEN(2) DATA.
func relayFeature(t byte, data []byte) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{t}, uint16(len(data))), data...)
}

// relayMessage is VER CODE FEALEN FEATURES.
func relayMessage(code byte, features ...[]byte) []byte {
	var body []byte
	for _, f := range features {
		body = append(body, f...)
	}
	return append(binary.BigEndian.AppendUint16([]byte{1, code}, uint16(len(body))), body...)
}

// readRelay reads one relay message and returns its code and the last Addr feature.
func readRelay(r io.Reader) (byte, string, error) {
	head := make([]byte, 4)
	if _, err := io.ReadFull(r, head); err != nil {
		return 0, "", err
	}
	if head[0] != 1 {
		return 0, "", fmt.Errorf("relay version %d", head[0])
	}
	body := make([]byte, binary.BigEndian.Uint16(head[2:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, "", err
	}
	addr := ""
	for len(body) >= 3 {
		t, n := body[0], int(binary.BigEndian.Uint16(body[1:3]))
		if 3+n > len(body) {
			return 0, "", errors.New("feature overflows the message")
		}
		if t == 2 {
			a, err := readAddr(bytes.NewReader(body[3 : 3+n]))
			if err != nil {
				return 0, "", err
			}
			addr = a
		}
		body = body[3+n:]
	}
	return head[1], addr, nil
}

func pipe(a, b io.ReadWriteCloser) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(a, b); done <- struct{}{} }()
	go func() { io.Copy(b, a); done <- struct{}{} }()
	<-done
	a.Close()
	b.Close()
}

func runClient(cfg *smux.Config, server, bind, target, proto string) error {
	conn, err := net.Dial("tcp", server)
	if err != nil {
		return err
	}
	a, err := encodeAddr(bind)
	if err != nil {
		return err
	}
	var bound string
	if proto == "socks5" {
		if _, err := conn.Write([]byte{5, 1, 0}); err != nil {
			return err
		}
		m := make([]byte, 2)
		if _, err := io.ReadFull(conn, m); err != nil || m[1] != 0 {
			return fmt.Errorf("method %v %v", m, err)
		}
		if _, err := conn.Write(append([]byte{5, 0xf2, 0}, a...)); err != nil {
			return err
		}
		rep := make([]byte, 3)
		if _, err := io.ReadFull(conn, rep); err != nil || rep[1] != 0 {
			return fmt.Errorf("MBIND reply %v %v", rep, err)
		}
		if bound, err = readAddr(conn); err != nil {
			return err
		}
	} else {
		req := relayMessage(0x02, relayFeature(4, []byte{0, 0}), relayFeature(2, a))
		if _, err := conn.Write(req); err != nil {
			return err
		}
		status, addr, err := readRelay(conn)
		if err != nil || status != 0 {
			return fmt.Errorf("BIND status %d %v", status, err)
		}
		bound = addr
	}
	fmt.Println("BOUND", bound)
	session, err := smux.Server(conn, cfg)
	if err != nil {
		return err
	}
	for {
		s, err := session.AcceptStream()
		if err != nil {
			fmt.Println("DONE", err)
			return nil
		}
		go func(s *smux.Stream) {
			var peer string
			var err error
			if proto == "socks5" {
				rep := make([]byte, 3)
				if _, err = io.ReadFull(s, rep); err == nil {
					peer, err = readAddr(s)
				}
			} else {
				var st byte
				st, peer, err = readRelay(s)
				if err == nil && st != 0 {
					err = fmt.Errorf("stream status %d", st)
				}
			}
			if err != nil {
				fmt.Println("BADSTREAM", err)
				s.Close()
				return
			}
			fmt.Println("PEER", peer)
			t, err := net.Dial("tcp", target)
			if err != nil {
				s.Close()
				return
			}
			pipe(s, t)
		}(s)
	}
}

func runServer(cfg *smux.Config, listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Println("LISTEN", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go serveBind(cfg, c)
	}
}

func serveBind(cfg *smux.Config, c net.Conn) {
	defer c.Close()
	code, addr, err := readRelay(c)
	if err != nil || code&0x0f != 2 {
		fmt.Println("BADREQ", code, err)
		return
	}
	if h, p, _ := net.SplitHostPort(addr); h == "" {
		addr = net.JoinHostPort("0.0.0.0", p)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		c.Write(relayMessage(5))
		return
	}
	defer ln.Close()
	a, _ := encodeAddr(ln.Addr().String())
	if _, err := c.Write(relayMessage(0, relayFeature(2, a))); err != nil {
		return
	}
	fmt.Println("BOUND", ln.Addr())
	session, err := smux.Client(c, cfg)
	if err != nil {
		return
	}
	go func() {
		for {
			s, err := session.AcceptStream()
			if err != nil {
				return
			}
			s.Close()
		}
	}()
	go func() {
		for !session.IsClosed() {
			time.Sleep(50 * time.Millisecond)
		}
		ln.Close()
	}()
	for {
		in, err := ln.Accept()
		if err != nil {
			fmt.Println("UNBOUND", addr)
			return
		}
		go func(in net.Conn) {
			s, err := session.OpenStream()
			if err != nil {
				in.Close()
				return
			}
			pa, _ := encodeAddr(in.RemoteAddr().String())
			if _, err := s.Write(relayMessage(0, relayFeature(2, pa))); err != nil {
				in.Close()
				s.Close()
				return
			}
			pipe(s, in)
		}(in)
	}
}
