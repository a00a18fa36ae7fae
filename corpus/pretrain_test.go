package corpus

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestRecordsHoldValidJSON(t *testing.T) {
	recs := Records(7, 300)
	if !reflect.DeepEqual(recs[:50], Records(7, 50)) {
		t.Fatal("record i depends on n")
	}
	kinds := map[string]bool{}
	for i, r := range recs {
		body := r
		if j := strings.IndexAny(r, "{"); j > 0 {
			kinds[r[:j]] = true
			body = r[j:]
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("record %d is not prose + one JSON object: %v\n%s", i, err, r)
		}
		if _, ok := v["mood"]; ok && v["name"] != nil && v["place"] != nil {
			t.Fatalf("record %d has the extraction task's shape: %s", i, r)
		}
	}
	if len(kinds) < 5 {
		t.Errorf("only %d kinds of introduction", len(kinds))
	}
}

func TestChatsAnswerInPlainSentences(t *testing.T) {
	chats := Chats(8, 200)
	if !reflect.DeepEqual(chats[:20], Chats(8, 20)) {
		t.Fatal("chat i depends on n")
	}
	for i, c := range chats {
		last := c[len(c)-1]
		if last.Role != "assistant" || last.Content == "" || strings.ContainsAny(last.Content, "{}") {
			t.Fatalf("chat %d does not end with a plain assistant sentence: %+v", i, last)
		}
		if c[len(c)-2].Role != "user" {
			t.Fatalf("chat %d: the answer does not follow a user turn", i)
		}
	}
}
