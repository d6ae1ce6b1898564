// Package punctuation ends the hello example's greeting (v0.2.0). The example replaces v0.2.0 with
// v0.2.1 so the binary's build info carries a module replacement.
package punctuation

// Bang returns the exclamation mark.
func Bang() string { return "!" }
