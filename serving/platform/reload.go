package platform

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/servekit/servekit/serving/config"
	"github.com/servekit/servekit/serving/internal/safefile"
	"github.com/servekit/servekit/serving/manifests"
	"github.com/servekit/servekit/serving/runtime/local"
)

// MaxImageMapBytes bounds the image map file: 1 MiB.
const MaxImageMapBytes = 1 << 20

// watchConfig scans Options.ConfigDir and Options.ImageMapFile every PollInterval
// until ctx is done.
func (p *Platform) watchConfig(ctx context.Context) error {
	interval := p.opts.PollInterval
	if interval <= 0 {
		interval = manifests.DefaultInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if p.config != nil {
				p.config.Scan()
			}
			if p.images != nil {
				p.images.scan()
			}
		}
	}
}

// configChanged hands the config maps that changed to the controller.
func (p *Platform) configChanged(c config.Config, changed []string) {
	network := false
	for _, name := range changed {
		switch name {
		case "config-autoscaler", "config-deployment":
			p.ctrl.SetAutoscalerConfig(local.BoundScale(c.Autoscaler))
			p.rt.SetDrainStreamDeadline(c.DrainStreamDeadline)
		case "config-network", "config-domain", "config-features":
			network = true
		case "config-gc":
			p.ctrl.SetGCConfig(c.GC)
		case "config-defaults":
			p.ctrl.SetDefaults(c.Defaults)
		}
	}
	if network {
		p.ctrl.SetNetworkConfig(c.Network)
	}
}

// imageMapWatcher follows the image map file: a changed file that parses replaces
// the runtime's map (for revisions created from then on, and those the runtime
// refused for want of a mapping: Controller.RetryFailedRevisions); one that does not keeps
// the last good map and is listed in the controller's source errors until fixed.
type imageMapWatcher struct {
	path   string
	log    *slog.Logger
	p      *Platform
	sum    [32]byte       // of the last content read
	errMsg string         // the error reported; "" if none
	cur    local.ImageMap // in effect
}

// newImageMapWatcher reads path (as LoadImageMap does; an error means none) and
// returns its watcher and the map.
func newImageMapWatcher(path string, log *slog.Logger, p *Platform) (*imageMapWatcher, local.ImageMap, error) {
	data, err := safefile.Read(path, MaxImageMapBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("platform: image map: %w", err)
	}
	m, err := parseImageMapFile(path, data)
	if err != nil {
		return nil, nil, err
	}
	return &imageMapWatcher{path: path, log: log, p: p, sum: sha256.Sum256(data), cur: m}, m, nil
}

// parseImageMapFile is local.DefaultImageMap with the map file's content over it.
func parseImageMapFile(path string, data []byte) (local.ImageMap, error) {
	over, err := local.ParseImageMap(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("platform: image map %s: %w", path, err)
	}
	return local.DefaultImageMap().Merge(over), nil
}

// scan reads the file once and applies or reports what changed.
func (w *imageMapWatcher) scan() {
	data, err := safefile.Read(w.path, MaxImageMapBytes)
	if err != nil {
		w.fail(fmt.Errorf("platform: image map: %w", err))
		return
	}
	sum := sha256.Sum256(data)
	if sum == w.sum && w.errMsg == "" {
		return
	}
	w.sum = sum
	if len(bytes.TrimSpace(data)) == 0 {
		// Emptied, as an editor's non-atomic save leaves it for a moment.
		w.fail(fmt.Errorf("platform: image map %s: empty (write {} for no entries)", w.path))
		return
	}
	m, err := parseImageMapFile(w.path, data)
	if err != nil {
		w.fail(err)
		return
	}
	if w.errMsg != "" {
		w.errMsg = ""
		w.p.ctrl.SetSourceError(w.path, nil)
		w.log.Info("image map fixed", "file", w.path)
	}
	var changed []string
	for image := range keys(w.cur, m) {
		if !slices.Equal(w.cur[image], m[image]) {
			changed = append(changed, image)
		}
	}
	if len(changed) == 0 {
		return
	}
	slices.Sort(changed)
	w.cur = m
	w.p.rt.SetImageMap(m)
	w.log.Info("image map changed: revisions created from now on use it; running revisions and their pods keep their command",
		"file", w.path, "images", changed)
	// A revision refused for want of a mapping may run now.
	w.p.ctrl.RetryFailedRevisions()
}

// fail reports err once per change of it; the last good map stays in effect.
func (w *imageMapWatcher) fail(err error) {
	if err.Error() == w.errMsg {
		return
	}
	w.errMsg = err.Error()
	w.sum = [32]byte{}
	w.log.Error("image map not valid; keeping the last good map", "file", w.path, "err", err)
	w.p.ctrl.SetSourceError(w.path, fmt.Errorf("%w (the last good image map stays in effect)", err))
}

// keys returns the set of the images of a and b.
func keys(a, b local.ImageMap) map[string]bool {
	out := map[string]bool{}
	for k := range maps.Keys(a) {
		out[k] = true
	}
	for k := range maps.Keys(b) {
		out[k] = true
	}
	return out
}
