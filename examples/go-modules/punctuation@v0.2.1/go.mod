module example.com/punctuation

go 1.19
