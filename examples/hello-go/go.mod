module example.com/hello

go 1.19

require example.com/greeting v1.3.0

require example.com/punctuation v0.2.0 // indirect

// A replacement, as real projects carry them: the build info records both versions.
replace example.com/punctuation v0.2.0 => example.com/punctuation v0.2.1
