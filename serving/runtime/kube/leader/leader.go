package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// ErrLost is returned by Run when leadership was lost while ctx was still live.
var ErrLost = errors.New("leader: leadership lost")

// Options configure Run. Client, Namespace, Name and Identity are required.
type Options struct {
	// Client talks to the API server; required.
	Client kubernetes.Interface
	// Namespace and Name name the Lease; required.
	Namespace, Name string
	// Identity names this replica in the Lease (e.g. the pod name); required and
	// unique per replica.
	Identity string
	// LeaseDuration is how long a lease is valid without renewal. Zero means 15s.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader retries renewing before giving up. Zero
	// means 10s.
	RenewDeadline time.Duration
	// RetryPeriod is how often candidates try to acquire or renew. Zero means 2s.
	RetryPeriod time.Duration
	// Logger receives leadership changes. Nil discards.
	Logger *slog.Logger
}

// Run campaigns for the Lease until ctx is done. Once leading it runs fn with a
// context cancelled when leadership ends; when fn returns, Run releases the Lease.
// Run returns after fn has returned: fn's error if any, ErrLost if leadership was
// lost while ctx was live and fn still ran, else nil.
func Run(ctx context.Context, opts Options, fn func(context.Context) error) error {
	if opts.Client == nil || opts.Namespace == "" || opts.Name == "" || opts.Identity == "" {
		return errors.New("leader: Options.Client, Namespace, Name and Identity are required")
	}
	if opts.LeaseDuration <= 0 {
		opts.LeaseDuration = 15 * time.Second
	}
	if opts.RenewDeadline <= 0 {
		opts.RenewDeadline = 10 * time.Second
	}
	if opts.RetryPeriod <= 0 {
		opts.RetryPeriod = 2 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lock := &watchedLock{Interface: &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: opts.Namespace, Name: opts.Name},
		Client:     opts.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: opts.Identity},
	}}
	// The elector stops when fn returns, so a replica whose work ended does not
	// keep the Lease.
	ectx, stop := context.WithCancel(ctx)
	defer stop()
	type result struct {
		err      error
		returned bool // fn returned while still leading
	}
	done := make(chan result, 1)
	cfg := leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   opts.LeaseDuration,
		RenewDeadline:   opts.RenewDeadline,
		RetryPeriod:     opts.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            opts.Namespace + "/" + opts.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) {
				log.Info("leader: leading", "lease", opts.Namespace+"/"+opts.Name, "identity", opts.Identity)
				err := fn(lctx)
				done <- result{err: err, returned: lctx.Err() == nil}
				stop()
			},
			OnStoppedLeading: func() {
				log.Info("leader: not leading", "lease", opts.Namespace+"/"+opts.Name, "identity", opts.Identity)
			},
		},
	}
	le, err := leaderelection.NewLeaderElector(cfg)
	if err != nil {
		return fmt.Errorf("leader: %w", err)
	}
	le.Run(ectx) // returns when ctx is done, fn returned or leadership is lost
	if !lock.acquired.Load() {
		return nil // never led, so fn never started
	}
	r := <-done
	if r.err != nil {
		return r.err
	}
	if !r.returned && ctx.Err() == nil {
		return ErrLost
	}
	return nil
}

// watchedLock records whether the lease was ever acquired: leaderelection starts
// OnStartedLeading in a goroutine right after a successful acquisition, so Run knows
// whether fn was started (and must be waited for) once the elector returns.
type watchedLock struct {
	resourcelock.Interface
	acquired atomic.Bool
}

func (l *watchedLock) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Create(ctx, r)
	if err == nil && r.HolderIdentity == l.Identity() {
		l.acquired.Store(true)
	}
	return err
}

func (l *watchedLock) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Update(ctx, r)
	if err == nil && r.HolderIdentity == l.Identity() {
		l.acquired.Store(true)
	}
	return err
}
