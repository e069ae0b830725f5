package queue

import "time"

// Clock is the time source of a [Proxy]: every time the queue package reads the
// time or waits for it (request timing, the revision timeouts, drain, the stats
// ticker, aggressive readiness probing) goes through one. [RealClock] is the time
// package's; a test may pass its own to step time explicitly. Implementations must
// be safe for concurrent use.
type Clock interface {
	// Now returns the current time. A real clock's reading carries the monotonic
	// clock, so durations between readings are immune to wall-clock jumps.
	Now() time.Time
	// NewTimer returns a Timer that sends the time on its channel once d passes,
	// as time.NewTimer does.
	NewTimer(d time.Duration) Timer
	// AfterFunc returns a Timer that calls f on its own goroutine once d passes,
	// as time.AfterFunc does; its channel is nil.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker returns a Ticker that sends the time on its channel every d, as
	// time.NewTicker does; d must be positive.
	NewTicker(d time.Duration) Ticker
}

// Timer is a timer made by a [Clock], with the semantics of *time.Timer.
type Timer interface {
	// C returns the channel on which the time is sent when the timer fires; nil
	// for a timer made by AfterFunc.
	C() <-chan time.Time
	// Stop prevents the timer from firing and reports whether it stopped it
	// (false: it had already fired or been stopped).
	Stop() bool
	// Reset makes the timer fire after d and reports whether it was active.
	Reset(d time.Duration) bool
}

// Ticker is a ticker made by a [Clock], with the semantics of *time.Ticker.
type Ticker interface {
	// C returns the channel on which the ticks are sent.
	C() <-chan time.Time
	// Stop turns the ticker off; no more ticks are sent.
	Stop()
}

// RealClock is the [Clock] of the time package. It is the default of
// ProxyOptions.Clock; its zero value is ready to use.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer returns time.NewTimer(d).
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

// AfterFunc returns time.AfterFunc(d, f).
func (RealClock) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}

// NewTicker returns time.NewTicker(d).
func (RealClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

// realTimer and realTicker hold one pointer, so storing them in an interface does
// not allocate: a Proxy's pooled timeout timers cost what *time.Timer costs.
type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }
