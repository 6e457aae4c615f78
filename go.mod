module github.com/streamview/streamview

go 1.26.8
