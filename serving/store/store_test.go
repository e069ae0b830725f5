package store_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/store"
)

// committerEnv makes the test binary a committer (see committer): its value is
// the state directory.
const committerEnv = "SERVEKIT_STORE_TEST_COMMITTER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(committerEnv); dir != "" {
		committer(dir)
		return
	}
	goleak.VerifyTestMain(m)
}

// crashRecords is how many records each commit of a committer rewrites.
const crashRecords = 20

// committer commits forever: commit i puts every one of crashRecords records
// (across two kinds) to the value i and deletes record i-1 of a third kind, then
// prints "committed i" once Commit has returned. It starts from what the store
// holds, so a killed committer's successor continues.
func committer(dir string) {
	s, err := store.Open(dir, store.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	start := 0
	_ = s.Load(func(r controller.Record) error {
		if r.Kind == "Service" {
			start, _ = strconv.Atoi(string(r.Value))
		}
		return nil
	})
	w := bufio.NewWriter(os.Stdout)
	for i := start + 1; ; i++ {
		v := []byte(strconv.Itoa(i))
		var puts []controller.Record
		for j := range crashRecords {
			kind := []string{"Service", "Revision"}[j%2]
			puts = append(puts, controller.Record{RecordKey: controller.RecordKey{Kind: kind, Namespace: "default", Name: fmt.Sprintf("r%02d", j)}, Value: v})
		}
		puts = append(puts, controller.Record{RecordKey: controller.RecordKey{Kind: "Source", Name: "/m/" + strconv.Itoa(i)}, Value: v})
		dels := []controller.RecordKey{{Kind: "Source", Name: "/m/" + strconv.Itoa(i-1)}}
		if err := s.Commit(puts, dels); err != nil {
			fmt.Println("commit:", err)
			os.Exit(2)
		}
		fmt.Fprintf(w, "committed %d\n", i)
		w.Flush()
	}
}

// state reads a store written by committers: the one value of all its records,
// or an error if they disagree (a half-written commit).
func state(t *testing.T, dir string) (int, error) {
	t.Helper()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	vals := map[string]int{}
	n := 0
	err = s.Load(func(r controller.Record) error {
		n++
		vals[string(r.Value)]++
		if r.Kind == "Source" && r.Name != "/m/"+string(r.Value) {
			return fmt.Errorf("source %s holds %s", r.Name, r.Value)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	if len(vals) != 1 || n != crashRecords+1 {
		return 0, fmt.Errorf("%d records with values %v, want %d records of one value", n, vals, crashRecords+1)
	}
	for v := range vals {
		return strconv.Atoi(v)
	}
	return 0, nil
}

// TestKillDuringCommit kills (SIGKILL) a process committing to the store at a
// random point, 50 times (5 state directories side by side, 10 kills each: a
// cycle is mostly process start-up and fsync waits): after each kill, the store
// opens, every commit the process reported is there, and no commit is there in
// part.
func TestKillDuringCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 50 processes")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const dirs, kills = 5, 10
	for d := range dirs {
		t.Run(fmt.Sprintf("dir%d", d), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for k := range kills {
				killCycle(t, self, dir, k)
			}
		})
	}
}

// killCycle starts a committer on dir, kills it after 1 to 3 reported commits at a
// random instant of the next, and checks the store.
func killCycle(t *testing.T, self, dir string, k int) {
	t.Helper()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), committerEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	want := 1 + rand.IntN(3)
	reported, last := 0, 0
	deadline := time.After(30 * time.Second)
	for reported < want {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("kill %d: committer ended: %v", k, cmd.Wait())
			}
			if _, err := fmt.Sscanf(l, "committed %d", &last); err != nil {
				t.Fatalf("kill %d: committer said %q", k, l)
			}
			reported++
		case <-deadline:
			_ = cmd.Process.Kill()
			for range lines {
			}
			_ = cmd.Wait()
			t.Fatalf("kill %d: no commit reported in 30s", k)
		}
	}
	time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) // anywhere in a commit (~1-20 ms with fsync)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	for l := range lines { // what it reported before it died
		if _, err := fmt.Sscanf(l, "committed %d", &last); err != nil {
			t.Fatalf("kill %d: committer said %q", k, l)
		}
	}
	_ = cmd.Wait()
	got, err := state(t, dir)
	if err != nil {
		t.Fatalf("kill %d: after the kill: %v", k, err)
	}
	if got < last || got > last+1 {
		t.Fatalf("kill %d: store holds commit %d; last reported %d, so want %d (or %d, committed but not yet reported)", k, got, last, last, last+1)
	}
}

// TestSecondOpenRefused: while a store is open, opening its directory again fails
// with ErrLocked naming the directory, and the first keeps working.
func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	first, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	rec := controller.Record{RecordKey: controller.RecordKey{Kind: "Service", Namespace: "default", Name: "a"}, Value: []byte("1")}
	if err := first.Commit([]controller.Record{rec}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = store.Open(dir, store.Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Open = %v, want ErrLocked naming %s", err, dir)
	}
	rec.Value = []byte("2")
	if err := first.Commit([]controller.Record{rec}, nil); err != nil {
		t.Fatalf("first store after the refused Open: %v", err)
	}
	var got []string
	_ = first.Load(func(r controller.Record) error { got = append(got, string(r.Value)); return nil })
	if diff := cmp.Diff([]string{"2"}, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// writeBolt writes a bbolt file in dir with the given buckets and keys.
func writeBolt(t *testing.T, dir string, buckets map[string]map[string]string) string {
	t.Helper()
	path := filepath.Join(dir, store.FileName)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for name, kv := range buckets {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			for k, v := range kv {
				if err := b.Put([]byte(k), []byte(v)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOtherLayoutRefused: a state file of another layout version, or a bbolt
// file that is not a servekit state file, is refused with a message naming the
// version, and left as it was.
func TestOtherLayoutRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		buckets map[string]map[string]string
		found   int
		msg     string
	}{
		{"newer layout", map[string]map[string]string{"meta": {"layout": "3"}, "records": {}}, 3, "layout version 3, this servekit reads layout version 2 only"},
		{"no layout version", map[string]map[string]string{"objects": {"default/a": "x"}}, 0, "no layout version (not a servekit state file)"},
		{"unreadable version", map[string]map[string]string{"meta": {"layout": "one"}, "records": {}}, 0, "no layout version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeBolt(t, dir, tc.buckets)
			before := fileSum(t, path)
			_, err := store.Open(dir, store.Options{})
			var le *store.LayoutError
			if !errors.As(err, &le) || le.Found != tc.found || le.Want != store.Layout || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open = %v, want a LayoutError (found %d) naming %s and saying %q", err, tc.found, path, tc.msg)
			}
			if fileSum(t, path) != before {
				t.Errorf("the refused file changed")
			}
		})
	}
}

// TestLayout1Migrated: a state file of layout version 1 (before DomainMappings)
// opens, keeps its records, and is version 2 from then on: a servekit that reads
// only version 1 refuses it rather than failing on a DomainMapping record.
func TestLayout1Migrated(t *testing.T) {
	dir := t.TempDir()
	path := writeBolt(t, dir, map[string]map[string]string{"meta": {"layout": "1"}, "records": {}})
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket([]byte("records")).CreateBucket([]byte("Service"))
		if err != nil {
			return err
		}
		return b.Put([]byte("default/hello"), []byte(`{"metadata":{"name":"hello"}}`))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatalf("Open of a layout 1 file: %v", err)
	}
	var got []string
	if err := s.Load(func(r controller.Record) error {
		got = append(got, r.Kind+" "+r.Namespace+"/"+r.Name+" "+string(r.Value))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if want := []string{`Service default/hello {"metadata":{"name":"hello"}}`}; !slices.Equal(got, want) {
		t.Errorf("records after migration = %q, want %q", got, want)
	}
	db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket([]byte("meta")).Get([]byte("layout"))); v != "2" {
			t.Errorf("layout after Open = %q, want 2", v)
		}
		return nil
	})
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestNotABoltFile: a state file that is not a database is an error naming it.
func TestNotABoltFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, store.FileName)
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a database\n"), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(dir, store.Options{}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Open = %v, want an error naming %s", err, path)
	}
}

// TestCommitAndDelete: puts and deletes of several kinds survive a reopen; keys
// hold names with slashes (sources are paths).
func TestCommitAndDelete(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := func(kind, ns, name string) controller.RecordKey {
		return controller.RecordKey{Kind: kind, Namespace: ns, Name: name}
	}
	if err := s.Commit([]controller.Record{
		{RecordKey: k("Service", "default", "a"), Value: []byte("a")},
		{RecordKey: k("Service", "prod", "b"), Value: []byte("b")},
		{RecordKey: k("Source", "", "/srv/manifests/a.yaml"), Value: []byte("src")},
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit([]controller.Record{{RecordKey: k("Route", "default", "a"), Value: []byte("r")}},
		[]controller.RecordKey{k("Service", "prod", "b"), k("Nothing", "x", "y")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit([]controller.Record{{RecordKey: k("Service", "a/b", "c"), Value: []byte("x")}}, nil); err == nil {
		t.Error("Commit of a namespace with a / succeeded")
	}
	s.Close()
	s, err = store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	_ = s.Load(func(r controller.Record) error {
		got = append(got, fmt.Sprintf("%s %s|%s=%s", r.Kind, r.Namespace, r.Name, r.Value))
		return nil
	})
	want := []string{"Route default|a=r", "Service default|a=a", "Source |/srv/manifests/a.yaml=src"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}
