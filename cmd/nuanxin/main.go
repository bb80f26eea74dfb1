// Command nuanxin runs the Nuanxin server. With no configuration it starts
// embedded document and object stores under ./data, so it runs on a laptop
// with nothing installed; NUANXIN_MONGO_URI and NUANXIN_S3_ENDPOINT point it
// at MongoDB and MinIO in production. The application itself is assembled by
// package app, which the tests build the same way.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nuanxin/nuanxin/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "nuanxin:", err)
		os.Exit(1)
	}
}
