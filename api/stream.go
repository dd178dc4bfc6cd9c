package api

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
)

// The streamed answers: the export and the backup.

func (s *Server) getExport(c echo.Context, g gate) error {
	after, _, err := queryUint(c, "after_seq")
	if err != nil {
		return err
	}
	if _, err := g.check(s, c); err != nil {
		return err
	}
	return stream(c, func(w io.Writer) error { return s.svc.Export(c.Request().Context(), after, w) },
		echo.HeaderContentType, "application/x-ndjson")
}

func (s *Server) getBackup(c echo.Context, g gate) error {
	if _, err := g.check(s, c); err != nil {
		return err
	}
	return stream(c, func(w io.Writer) error { _, err := s.svc.Backup(w); return err },
		echo.HeaderContentType, echo.MIMEOctetStream,
		echo.HeaderContentDisposition, `attachment; filename="timebank-backup.db"`)
}

// stream answers 200 and the bytes fill writes, with the header pairs given, but commits
// the status and headers only at the first byte: a fill that fails before it (the store
// stopped, no disk space to spool a backup) answers its error, not an empty 200 that a
// client would take for a whole, empty answer. A fill that fails after it is cut by
// handledOnce, since its status is gone.
//
// A HEAD request gets the status and headers only: net/http would drop the bytes anyway,
// and a whole export or a spooled backup copy is a lot of work to throw away.
func stream(c echo.Context, fill func(w io.Writer) error, header ...string) error {
	w := &committer{res: c.Response(), header: header}
	if c.Request().Method == http.MethodHead {
		w.commit()
		return nil
	}
	if err := fill(w); err != nil {
		return err
	}
	w.commit() // an empty answer (an export with nothing after after_seq) is a whole one
	return nil
}

// committer is the writer of stream: it commits 200 and its headers at the first byte.
type committer struct {
	res    *echo.Response
	header []string // name, value, …
}

func (w *committer) commit() {
	if w.res.Committed {
		return
	}
	for i := 0; i+1 < len(w.header); i += 2 {
		w.res.Header().Set(w.header[i], w.header[i+1])
	}
	w.res.WriteHeader(http.StatusOK)
}

func (w *committer) Write(p []byte) (int, error) {
	if len(p) == 0 { // no first byte yet
		return 0, nil
	}
	w.commit()
	return w.res.Write(p)
}
