package store

import (
	"fmt"
	"io"
)

// ExactReader returns rc as a reader whose EOF before want bytes (a body
// shorter than its Content-Length) is an io.ErrUnexpectedEOF naming name,
// and whose other errors name it too. want < 0 means unknown.
func ExactReader(rc io.ReadCloser, want int64, name string) io.ReadCloser {
	return &exactReader{rc: rc, want: want, name: name}
}

type exactReader struct {
	rc   io.ReadCloser
	want int64
	got  int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.rc.Read(p)
	e.got += int64(n)
	if err == io.EOF && e.got < e.want {
		err = fmt.Errorf("get %s: %d of %d bytes: %w", e.name, e.got, e.want, io.ErrUnexpectedEOF)
	} else if err != nil && err != io.EOF {
		err = fmt.Errorf("get %s: %w", e.name, err)
	}
	return n, err
}

func (e *exactReader) Close() error { return e.rc.Close() }
