package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
)

// bareEchoCmd serves the HTTP ceiling of loadgen's bare mode: one Echo handler that decodes
// a credit-shaped JSON body and answers 201, and nothing else. loadgen starts it as a child
// process, so that the ceiling runs as the real server does: its own process and runtime,
// the load generator on the same cores (docs/PERFORMANCE.md, HTTP).
type bareEchoCmd struct {
	Addr string `default:"127.0.0.1:0" help:"Address to listen on."`
	// WithParent makes the child end when its standard input does: loadgen holds the
	// other end of that pipe, so the child cannot outlive a load generator that was killed.
	WithParent bool `name:"with-parent" help:"Exit when standard input ends (loadgen's pipe)."`
}

// bareServingPrefix starts the line on which bare-echo tells its address.
const bareServingPrefix = "bare-echo: serving on "

func (c *bareEchoCmd) Run() error {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	type activity struct{ ID, Category, StartedAt, EndedAt string }
	type body struct {
		Volunteer, Hours string
		Activity         activity
	}
	e.POST("/bare", func(c echo.Context) error {
		var b body
		if err := json.NewDecoder(c.Request().Body).Decode(&b); err != nil {
			return c.JSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
		}
		return c.JSON(http.StatusCreated, map[string]any{"seq": 1, "volunteer": b.Volunteer, "hours": b.Hours})
	})
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: e, ReadHeaderTimeout: readHeaderTimeout}
	fmt.Printf("%shttp://%s/bare\n", bareServingPrefix, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.WithParent {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startBareEcho runs `timebank bare-echo` as a child process and returns its URL and a
// function that stops it.
func startBareEcho() (url string, stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "bare-echo", "--addr", "127.0.0.1:0", "--with-parent")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	in, err := cmd.StdinPipe() // held open until stop, or until this process dies
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() {
		in.Close()
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), bareServingPrefix); ok {
				urls <- u
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case url = <-urls:
		return url, stop, nil
	case <-time.After(10 * time.Second):
		stop()
		return "", nil, errors.New("loadgen: bare-echo did not start within 10 s")
	}
}
