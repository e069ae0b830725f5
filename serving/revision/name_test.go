package revision

import (
	"crypto/md5"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/servekit/servekit/serving/v1"
)

func TestName(t *testing.T) {
	long := strings.Repeat("a", 60) // 60 + len("-00001") > 63
	tests := []struct {
		name   string
		config string
		gen    int64
		byo    string
		want   string
	}{
		{name: "first generation", config: "hello", gen: 1, want: "hello-00001"},
		{name: "second generation", config: "hello", gen: 2, want: "hello-00002"},
		{name: "tenth", config: "build", gen: 10, want: "build-00010"},
		{name: "hundredth", config: "labels", gen: 100, want: "labels-00100"},
		{name: "four digits", config: "no-revisions-yet", gen: 1234, want: "no-revisions-yet-01234"},
		{name: "six digits use more digits", config: "x", gen: 123456, want: "x-123456"},
		{name: "seed", config: "helloworld-go", gen: 1, want: "helloworld-go-00001"},
		{name: "bring your own name wins", config: "hello", gen: 7, byo: "hello-v2", want: "hello-v2"},
		{name: "long config names are hashed to 63 characters", config: long, gen: 1,
			want: long[:31-len("-00001")] + fmt.Sprintf("%x", md5.Sum([]byte(long))) + "-00001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: tc.config, Generation: tc.gen}}
			cfg.Spec.Template.Name = tc.byo
			if got := Name(cfg); got != tc.want {
				t.Errorf("Name() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestChildName(t *testing.T) {
	hash := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }
	p63 := strings.Repeat("f", 63)
	p52 := strings.Repeat("b", 52)
	longSuffix := "-" + strings.Repeat("s", 40) // 41 characters
	tests := []struct {
		name, parent, suffix, want string
	}{
		{name: "fits", parent: "hello", suffix: "-deployment", want: "hello-deployment"},
		{name: "exactly 63", parent: p52, suffix: "-deployment", want: p52 + "-deployment"},
		{name: "empty suffix fits", parent: p63, suffix: "", want: p63},
		{name: "one over: parent cut, md5 of parent, suffix kept",
			parent: p52 + "b", suffix: "-deployment",
			want: strings.Repeat("b", 20) + hash(p52+"b") + "-deployment"},
		{name: "long parent and revision suffix",
			parent: p63, suffix: "-00001",
			want: strings.Repeat("f", 25) + hash(p63) + "-00001"},
		{name: "suffix of 31 or more: md5 of parent+suffix, padded with the suffix",
			parent: strings.Repeat("p", 25), suffix: longSuffix,
			want: strings.Repeat("p", 25) + hash(strings.Repeat("p", 25)+longSuffix) + "-sssss"},
		{name: "long parent and long suffix",
			parent: p63, suffix: longSuffix,
			want: strings.Repeat("f", 31) + hash(p63+longSuffix)},
		{name: "trailing non-alphanumerics are trimmed",
			parent: "abc", suffix: "-" + strings.Repeat("x", 26) + "----" + strings.Repeat("y", 30),
			want: "abc" + hash("abc"+"-"+strings.Repeat("x", 26)+"----"+strings.Repeat("y", 30)) + "-" + strings.Repeat("x", 26)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ChildName(tc.parent, tc.suffix)
			if got != tc.want {
				t.Errorf("ChildName(%q, %q) =\n %q, want\n %q", tc.parent, tc.suffix, got, tc.want)
			}
			if len(got) > 63 {
				t.Errorf("ChildName(%q, %q) has %d characters, want <= 63", tc.parent, tc.suffix, len(got))
			}
		})
	}
}
