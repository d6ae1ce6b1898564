module example.com/greeting

go 1.19

require example.com/punctuation v0.2.0
