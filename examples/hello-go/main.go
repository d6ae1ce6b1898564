// Command hello prints a greeting; Slipway's example Go program.
package main

import (
	"fmt"
	"runtime"

	"example.com/greeting"
)

func main() {
	fmt.Println(greeting.Hello("Slipway"))
	fmt.Printf("built for %s/%s\n", runtime.GOOS, runtime.GOARCH)
}
