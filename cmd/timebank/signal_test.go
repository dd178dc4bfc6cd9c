package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalDuringStartup: a SIGTERM that comes while serve is still starting (opening the
// store, writing the first start's genesis entry and admin token) stops it gracefully too,
// exit status 0, once it has started (SPEC §6). Before, serve listened for the signals only
// once it served: a signal during startup killed it wherever it was, and a first start
// killed between its signing key and its genesis entry left a directory that no later
// start would open without deleting the key by hand.
//
// serve is held in its startup deterministically: its standard output is a pipe whose
// buffer the test has filled, so its first line (the admin token's, after the genesis
// entry) waits until the test reads. Its listener, bound before, tells that it is running.
func TestSignalDuringStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fillPipe(t, w)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--data", data, "--addr", addr)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TIMEBANK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill() })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited before listening: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	go io.Copy(&stdout, r) // serve goes on past its first line
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) && !exit.Exited() {
			t.Fatalf("a SIGTERM during startup killed serve (%v) instead of stopping it gracefully\n%s", err, stderr.String())
		}
		if err != nil {
			t.Fatalf("serve after a SIGTERM during startup: %v, want exit status 0\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit within 15 s of SIGTERM")
	}
	if out, err := exec.Command(bin, "verify", "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("verify after a SIGTERM during startup: %v\n%s", err, out)
	}
}

// fillPipe fills the buffer of the pipe whose write end is w, so that the next write waits
// for a read.
func fillPipe(t *testing.T, w *os.File) {
	t.Helper()
	fd := int(w.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := syscall.Write(fd, chunk); err != nil {
			if !errors.Is(err, syscall.EAGAIN) {
				t.Fatal(err)
			}
			break
		}
	}
	// A pipe's buffer may take a write smaller than the chunk still: fill it to the byte.
	for {
		if _, err := syscall.Write(fd, chunk[:1]); err != nil {
			if !errors.Is(err, syscall.EAGAIN) {
				t.Fatal(err)
			}
			break
		}
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		t.Fatal(err)
	}
}
