package exported

import (
	"slices"
	"testing"
)

func TestLabelsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"dog", "cat"}, "dog,cat"},
		{[]string{"airplane", "automobile", "bird"}, "airplane,automobile,bird"},
		{[]string{"a,b", "c"}, `["a,b","c"]`},
		{[]string{"[x]", "y"}, `["[x]","y"]`},
		{[]string{" padded", "y"}, `[" padded","y"]`},
		{[]string{"été", "hiver"}, "été,hiver"},
	} {
		got := EncodeLabels(tc.names)
		if got != tc.want {
			t.Errorf("EncodeLabels(%q) = %q, want %q", tc.names, got, tc.want)
		}
		back, err := DecodeLabels(got)
		if err != nil || !slices.Equal(back, tc.names) {
			t.Errorf("DecodeLabels(%q) = %q, %v; want %q", got, back, err, tc.names)
		}
	}
	for _, bad := range []string{"", "dog", "dog,dog", "dog,,cat", "[", `["a"]`, `["a",""]`} {
		if got, err := DecodeLabels(bad); err == nil {
			t.Errorf("DecodeLabels(%q) = %q, want an error", bad, got)
		}
	}
}
