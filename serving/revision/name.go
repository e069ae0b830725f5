package revision

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"

	v1 "github.com/servekit/servekit/serving/v1"
)

// Name returns the name of the Revision that cfg's current generation
// stamps: the template's bring-your-own name when it is set, otherwise
// ChildName(cfg.Name, "-%05d" of cfg.Generation), for example
// "hello-00001", "build-00010", "x-123456" (generations of six digits and
// more simply use more digits).
func Name(cfg *v1.Configuration) string {
	if n := cfg.Spec.Template.Name; n != "" {
		return n
	}
	return ChildName(cfg.Name, fmt.Sprintf("-%05d", cfg.Generation))
}

// maxNameLen is the longest Kubernetes object name ChildName produces (a
// DNS-1035 label).
const maxNameLen = 63

// hashedHead is how much of the parent is kept when the name is shortened:
// the rest of the 63 characters are a 32-digit MD5 and the suffix.
const hashedHead = maxNameLen - 2*md5.Size

// ChildName is Knative's kmeta.ChildName: the name of an object derived
// from parent, such as a Revision ("-00001") or its Deployment
// ("-deployment"). It is parent+suffix when that fits in 63 characters.
// Otherwise, for a suffix shorter than 31 characters, the parent is cut
// and an MD5 of the whole parent keeps the result unique:
// parent[:31-len(suffix)] + md5hex(parent) + suffix, exactly 63
// characters. For a longer suffix the MD5 is of parent+suffix, the parent
// is cut to 31 characters, the result is padded with the start of the
// suffix up to 63 characters and trailing characters that are not letters
// or digits are trimmed.
func ChildName(parent, suffix string) string {
	if len(parent)+len(suffix) <= maxNameLen {
		return parent + suffix
	}
	if len(suffix) < hashedHead {
		sum := md5.Sum([]byte(parent))
		return parent[:hashedHead-len(suffix)] + hex.EncodeToString(sum[:]) + suffix
	}
	sum := md5.Sum([]byte(parent + suffix))
	if len(parent) > hashedHead {
		parent = parent[:hashedHead]
	}
	n := parent + hex.EncodeToString(sum[:])
	if d := maxNameLen - len(n); d > 0 {
		n += suffix[:d]
	}
	return strings.TrimRightFunc(n, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
}
