module github.com/billkey/billkey

go 1.26.8
