// Package greeting builds the greeting the hello example prints. It is served to the example
// through a file-based GOPROXY so the binary's build info lists real versioned dependencies.
package greeting

import "example.com/punctuation"

// Hello returns the greeting for name.
func Hello(name string) string {
	return "Hello from " + name + punctuation.Bang()
}
