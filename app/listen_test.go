package app

import (
	"net"
	"testing"
)

func listen(t testing.TB) (net.Listener, chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, make(chan error, 1)
}
