package queue

import (
	"net/http/httputil"
	"sync"
	"testing"
)

var _ httputil.BufferPool = BufferPool{}

func TestBufferPool(t *testing.T) {
	var bp BufferPool
	b := bp.Get()
	if len(b) != 32<<10 || cap(b) != 32<<10 {
		t.Fatalf("Get: len %d cap %d, want 32 KiB", len(b), cap(b))
	}
	b[0] = 1
	bp.Put(b[:10]) // a shortened buffer keeps its capacity: kept
	// Foreign buffers are dropped, not pooled: a Get never returns them.
	bp.Put(make([]byte, 1<<10))
	bp.Put(b[1:1:1])
	bp.Put(nil)
	for range 100 {
		if g := bp.Get(); len(g) != 32<<10 || cap(g) != 32<<10 {
			t.Fatalf("Get after foreign Puts: len %d cap %d, want 32 KiB", len(g), cap(g))
		}
	}
}

// BenchmarkBufferPool compares BufferPool with the pool of *[]byte it replaced
// (one allocation per Put, for the slice header).
func BenchmarkBufferPool(b *testing.B) {
	old := sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	oldGet := func() []byte { return *old.Get().(*[]byte) }
	oldPut := func(b []byte) { old.Put(&b) }
	var bp BufferPool
	for _, p := range []struct {
		name     string
		get      func() []byte
		put      func([]byte)
		parallel bool
	}{
		{"BufferPool", bp.Get, bp.Put, false},
		{"BufferPool/parallel", bp.Get, bp.Put, true},
		{"slice-pointer-pool", oldGet, oldPut, false},
		{"slice-pointer-pool/parallel", oldGet, oldPut, true},
	} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			if p.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						p.put(p.get())
					}
				})
				return
			}
			for b.Loop() {
				p.put(p.get())
			}
		})
	}
}
