package sim

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// tickJSON is Tick's JSON form: the 11 fields of the format, in order.
type tickJSON struct {
	At                  string  `json:"at"`
	ReadyPods           int32   `json:"readyPods"`
	StableConcurrency   float64 `json:"stableConcurrency"`
	PanicConcurrency    float64 `json:"panicConcurrency"`
	StableRPS           float64 `json:"stableRPS"`
	PanicRPS            float64 `json:"panicRPS"`
	Desired             int32   `json:"desired"`
	ExcessBurstCapacity int32   `json:"excessBurstCapacity"`
	Panic               bool    `json:"panic"`
	Scale               int32   `json:"scale"`
	Valid               bool    `json:"valid"`
	// CPU is set on HPA ticks only.
	CPU *float64 `json:"cpu,omitempty"`
}

// MarshalJSON encodes t as one object of the output format (see the package
// doc): At as a duration string such as "2s"; State and ActivatorInPath
// are left out; "cpu" follows on an HPA tick only.
func (t Tick) MarshalJSON() ([]byte, error) {
	return json.Marshal(tickJSON{
		At:                  formatAt(t.At),
		ReadyPods:           t.ReadyPods,
		StableConcurrency:   t.StableConcurrency,
		PanicConcurrency:    t.PanicConcurrency,
		StableRPS:           t.StableRPS,
		PanicRPS:            t.PanicRPS,
		Desired:             t.Desired,
		ExcessBurstCapacity: t.ExcessBurstCapacity,
		Panic:               t.Panic,
		Scale:               t.Scale,
		Valid:               t.Valid,
		CPU:                 cpuOf(t),
	})
}

func cpuOf(t Tick) *float64 {
	if !t.HPA {
		return nil
	}
	return &t.CPU
}

// UnmarshalJSON decodes what MarshalJSON encodes; State and
// ActivatorInPath are left zero.
func (t *Tick) UnmarshalJSON(b []byte) error {
	var j tickJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	at, err := time.ParseDuration(j.At)
	if err != nil {
		return fmt.Errorf("sim: tick at: %q is not a duration", j.At)
	}
	*t = Tick{
		At:                  at,
		ReadyPods:           j.ReadyPods,
		StableConcurrency:   j.StableConcurrency,
		PanicConcurrency:    j.PanicConcurrency,
		StableRPS:           j.StableRPS,
		PanicRPS:            j.PanicRPS,
		Desired:             j.Desired,
		ExcessBurstCapacity: j.ExcessBurstCapacity,
		Panic:               j.Panic,
		Scale:               j.Scale,
		Valid:               j.Valid,
	}
	if j.CPU != nil {
		t.HPA, t.CPU = true, *j.CPU
	}
	return nil
}

// formatAt writes whole seconds as "60s" (not "1m0s", as time.Duration
// would), anything else as time.Duration does.
func formatAt(d time.Duration) string {
	if d.Truncate(time.Second) == d {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// WriteJSONLines writes one JSON object per tick, one per line (see Tick's
// MarshalJSON). It returns the first write error.
func WriteJSONLines(w io.Writer, ticks []Tick) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, t := range ticks {
		if err := enc.Encode(t); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteCSV writes a header and one row per tick: the JSON columns with
// at_seconds (At in whole seconds) first, then the revision state and
// activatorInPath, and for HPA ticks (the first tick says) a last column,
// cpu. It returns the first write error.
func WriteCSV(w io.Writer, ticks []Tick) error {
	cw := csv.NewWriter(w)
	hpaTicks := len(ticks) > 0 && ticks[0].HPA
	header := []string{"at_seconds", "readyPods", "stableConcurrency", "panicConcurrency",
		"stableRPS", "panicRPS", "desired", "excessBurstCapacity", "panic", "scale", "valid", "state", "activatorInPath"}
	if hpaTicks {
		header = append(header, "cpu")
	}
	_ = cw.Write(header)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	i := func(v int32) string { return strconv.Itoa(int(v)) }
	for _, t := range ticks {
		row := []string{strconv.Itoa(int(t.At / time.Second)), i(t.ReadyPods), f(t.StableConcurrency), f(t.PanicConcurrency),
			f(t.StableRPS), f(t.PanicRPS), i(t.Desired), i(t.ExcessBurstCapacity), strconv.FormatBool(t.Panic),
			i(t.Scale), strconv.FormatBool(t.Valid), t.State.String(), strconv.FormatBool(t.ActivatorInPath)}
		if hpaTicks {
			row[11] = "" // the KPA's revision state means nothing here
			row = append(row, f(t.CPU))
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}
