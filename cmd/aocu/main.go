// Command aocu is an ao Compute Unit, and a whole ao network in one binary.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/aocu/aocu/internal/devcmd"
	"github.com/aocu/aocu/internal/evalcmd"
	"github.com/aocu/aocu/internal/servecmd"
)

const usage = `aocu: an ao Compute Unit

usage: aocu <command> [flags]

commands:
  dev     run a whole ao network on this machine: gateway, MU, SU and CU
  serve   run an ao Compute Unit (the reference CU's HTTP API and env vars)
  eval    run an ao module on messages from the shell (the loader alone)

Run "aocu <command> --help" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "eval":
		return evalcmd.Run(ctx, args[1:], os.Stdin, os.Stdout, os.Stderr)
	case "dev":
		return devcmd.Run(ctx, args[1:], os.Stdout, os.Stderr)
	case "serve":
		return servecmd.Run(ctx, args[1:], os.Stdout, os.Stderr)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "aocu: unknown command %q\n\n%s", args[0], usage)
	return 2
}
