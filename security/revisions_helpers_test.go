package security_test

import (
	"testing"

	"github.com/devarch/devarch-controller/state"
)

// queryTexts returns the one text column of every row a query returns.
func queryTexts(t *testing.T, st *state.Store, sql string) []string {
	t.Helper()
	rows, err := st.Pool().Query(t.Context(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
