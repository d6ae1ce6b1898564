module example.com/hello

go 1.19

require example.com/greeting v1.2.0
