package queue

import "sync"

// bufferSize is the size of BufferPool's buffers: what httputil.ReverseProxy
// allocates per copy without a pool.
const bufferSize = 32 << 10

// buffers holds *[bufferSize]byte: a pointer, so Put stores it in the pool's
// interface without allocating (a pool of *[]byte allocates a slice header on
// every Put).
var buffers = sync.Pool{New: func() any { return new([bufferSize]byte) }}

// BufferPool is an httputil.BufferPool of 32 KiB copy buffers, for a
// ReverseProxy's BufferPool field. All BufferPool values share one process-wide
// pool, so the queue proxy, the activator and the ingress of one process reuse each
// other's buffers. The zero value is ready to use, and it is safe for concurrent
// use. Neither Get nor Put allocates once the pool is warm.
type BufferPool struct{}

// Get returns a 32 KiB buffer (len and cap), from the pool or new. Its contents
// are undefined.
func (BufferPool) Get() []byte { return buffers.Get().(*[bufferSize]byte)[:] }

// Put returns b to the pool for a later Get. Only a buffer with a capacity of
// exactly 32 KiB whose first byte is that of its backing array, as Get returns,
// is kept; anything else is left to the garbage collector. b must not be used
// after Put.
func (BufferPool) Put(b []byte) {
	if cap(b) != bufferSize {
		return
	}
	buffers.Put((*[bufferSize]byte)(b[:bufferSize]))
}
