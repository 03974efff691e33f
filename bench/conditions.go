package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// condition is one simulated network: random loss in each direction, a round
// trip (half of it one-way delay each way) and up to Jitter of extra one-way delay.
type condition struct {
	Name   string
	Loss   int // percent, each direction
	RTT    time.Duration
	Jitter time.Duration
}

// OneWay is the one-way delay without jitter.
func (c condition) OneWay() time.Duration { return c.RTT / 2 }

// Perfect reports whether the condition has no impairment at all.
func (c condition) Perfect() bool { return c.Loss == 0 && c.RTT == 0 && c.Jitter == 0 }

func (c condition) String() string {
	if c.Perfect() {
		return "perfect (no loss, no delay)"
	}
	return fmt.Sprintf("%d%% loss, %v RTT, %v jitter", c.Loss, c.RTT, c.Jitter)
}

// conditionName builds the canonical name: perfect, loss1_rtt20,
// loss5_rtt50_jitter10.
func conditionName(loss int, rtt, jitter time.Duration) string {
	if loss == 0 && rtt == 0 && jitter == 0 {
		return "perfect"
	}
	var parts []string
	if loss > 0 {
		parts = append(parts, "loss"+strconv.Itoa(loss))
	}
	if rtt > 0 {
		parts = append(parts, "rtt"+strconv.FormatInt(rtt.Milliseconds(), 10))
	}
	if jitter > 0 {
		parts = append(parts, "jitter"+strconv.FormatInt(jitter.Milliseconds(), 10))
	}
	return strings.Join(parts, "_")
}

// defaultConditions are the conditions the issue asks for.
const defaultConditions = "perfect,loss1_rtt20,loss5_rtt50_jitter10,loss10_rtt100_jitter20"

// parseConditions parses a comma-separated list of condition names in the
// canonical form (any of the lossN, rttMS, jitterMS parts, or perfect).
func parseConditions(s string) ([]condition, error) {
	var out []condition
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		c, err := parseCondition(name)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no conditions in %q", s)
	}
	return out, nil
}

func parseCondition(name string) (condition, error) {
	c := condition{Name: name}
	if name == "perfect" {
		return c, nil
	}
	for part := range strings.SplitSeq(name, "_") {
		var key string
		var digits string
		for _, k := range []string{"loss", "rtt", "jitter"} {
			if rest, ok := strings.CutPrefix(part, k); ok {
				key, digits = k, rest
				break
			}
		}
		n, err := strconv.Atoi(digits)
		if key == "" || err != nil || n < 0 {
			return c, fmt.Errorf("condition %q: bad part %q (want lossPCT, rttMS, jitterMS or perfect)", name, part)
		}
		switch key {
		case "loss":
			if n > 100 {
				return c, fmt.Errorf("condition %q: loss over 100%%", name)
			}
			c.Loss = n
		case "rtt":
			c.RTT = time.Duration(n) * time.Millisecond
		case "jitter":
			c.Jitter = time.Duration(n) * time.Millisecond
		}
	}
	c.Name = conditionName(c.Loss, c.RTT, c.Jitter)
	return c, nil
}
