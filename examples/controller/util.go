package main

import (
	"bufio"
	"bytes"
	"io"
)

var ioEOF = io.EOF

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
