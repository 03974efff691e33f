//go:build !js

package lobby

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"create","ref":"1","name":"arena","capacity":8,"metadata":{"map":"dust"},"password":"pw","secret":"s"}`,
		`{"type":"list"}`,
		`{"type":"list","game":"arena","gameVersion":"1","limit":20,"cursor":"17"}`,
		`{"type":"list","limit":-5,"cursor":"x"}`,
		`{"type":"create","name":"a","game":"arena","gameVersion":"2"}`,
		`{"type":"quick_join","game":"arena","gameVersion":""}`,
		`{"type":"join","roomId":"r0123456789abcdef","password":""}`,
		`{"type":"quick_join"}`,
		`{"type":"leave","ref":"x"}`,
		`{"type":"signal","to":"c1","signal":{"type":"offer","sdp":"v=0\r\n"}}`,
		`{"type":"signal","signal":{"type":"ice","candidate":"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"signal","signal":{"type":"ice","candidate":""}}`,
		`{"type":"welcome"}`,
		`{"type":`, `[]`, `null`, `"x"`, ``, ` {"type":"list"}`,
		`{"type":"create","capacity":1e400}`,
		`{"type":"signal","signal":{"type":"ice","sdpMLineIndex":70000}}`,
		"{\"type\":\"list\",\"name\":\"\xff\xfe\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMessage(data)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, ErrBadMessage) || pe.Code == "" {
				t.Fatalf("error %v is not a coded ProtocolError", err)
			}
			return
		}
		if !clientTypes[m.Type] || len(m.Ref) > MaxRefBytes {
			t.Fatalf("accepted %+v", m)
		}
		// What decodes re-encodes and decodes to the same message.
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := DecodeMessage(again)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", again, err)
		}
		if !reflect.DeepEqual(normalize(m), normalize(m2)) {
			t.Fatalf("round trip changed %+v into %+v", m, m2)
		}
		if m.Signal != nil {
			_ = m.Signal.Validate() // must not panic either
		}
	})
}

// normalize compacts raw JSON so that equivalent messages compare equal.
func normalize(m Message) Message {
	if m.Metadata != nil {
		var v any
		if json.Unmarshal(m.Metadata, &v) == nil {
			m.Metadata, _ = json.Marshal(v)
		}
	}
	return m
}

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		in   string
		code string
	}{
		{`{"type":"list","ref":"7"}`, ""},
		{`{"type":"list","unknown":"ignored"}`, ""},
		{`{"type":"nope","ref":"7"}`, CodeUnknownType},
		{`{"type":"created"}`, CodeUnknownType},
		{`{}`, CodeUnknownType},
		{`nope`, CodeBadMessage},
		{`{"type":1}`, CodeBadMessage},
	}
	for _, tc := range tests {
		_, err := DecodeMessage([]byte(tc.in))
		var pe *ProtocolError
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.code != "" && (!errors.As(err, &pe) || pe.Code != tc.code):
			t.Errorf("%s: err %v, want code %s", tc.in, err, tc.code)
		}
	}
	// The ref of an unknown message is kept so the error can echo it.
	_, err := DecodeMessage([]byte(`{"type":"nope","ref":"7"}`))
	var pe *ProtocolError
	if errors.As(err, &pe); pe.Ref != "7" {
		t.Fatalf("ref = %q", pe.Ref)
	}
}
