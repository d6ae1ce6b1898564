// Command hello prints a greeting; Slipway's example Go program.
package main

import (
	"flag"
	"fmt"
	"runtime"

	"example.com/greeting"
)

// Set at build time by slipway.yaml's ldflags: -X main.version={version} -X main.commit={commit}.
var (
	version = "dev"
	commit  = ""
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		if commit == "" {
			fmt.Printf("hello %s\n", version)
		} else {
			fmt.Printf("hello %s (commit %s)\n", version, commit)
		}
		return
	}
	fmt.Println(greeting.Hello("Slipway"))
	fmt.Printf("built for %s/%s\n", runtime.GOOS, runtime.GOARCH)
}
