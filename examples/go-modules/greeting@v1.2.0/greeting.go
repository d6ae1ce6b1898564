// Package greeting builds the greeting the hello example prints. It is served to the example
// through a file-based GOPROXY so the binary's build info lists a real versioned dependency.
package greeting

// Hello returns the greeting for name.
func Hello(name string) string {
	return "Hello from " + name + "!"
}
