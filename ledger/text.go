package ledger

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text limits of SPEC §7, in characters.
const (
	MaxMemoChars       = 200
	MaxReasonChars     = 500
	MaxActivityIDChars = 128
	MaxIdempotencyKey  = 128
)

// CheckText checks a free-text field: valid UTF-8, no control characters, at most max
// characters, and non-empty when required. Errors are *Error invalid_field.
func CheckText(field, s string, max int, required bool) error {
	if len(s) > 4*max || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return Errorf(CodeInvalidField, "%s must be valid text of at most %d characters.", field, max).
			With("field", field).With("max_chars", max)
	}
	if required && s == "" {
		return Errorf(CodeInvalidField, "%s is required.", field).With("field", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Errorf(CodeInvalidField, "%s must not contain control characters such as line breaks.", field).
				With("field", field)
		}
		// Bidirectional controls (U+202E and kin) make text show in another order than
		// it is stored: in an audit log that is spoofing.
		if unicode.Is(unicode.Bidi_Control, r) {
			return Errorf(CodeInvalidField, "%s must not contain bidirectional control characters such as U+202E.", field).
				With("field", field)
		}
	}
	return nil
}

// ValidIdempotencyKey reports whether k is 1–128 printable ASCII characters (SPEC §3).
func ValidIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

func missingKey() *Error {
	return Errorf(CodeMissingIdempotencyKey,
		"Send an Idempotency-Key header of 1 to %d printable ASCII characters with every write.", MaxIdempotencyKey)
}

func badField(field, format string, args ...any) *Error {
	return Errorf(CodeInvalidField, format, args...).With("field", field)
}

// article is "a" or "an" for word, as spoken ("an open entry", "a credit entry").
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// KindsText lists account kinds for a message: "a resident", "a station or an outlet".
func KindsText(kinds []Kind) string {
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = article(string(k)) + " " + string(k)
	}
	if len(parts) > 1 {
		return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
	}
	return strings.Join(parts, "")
}

// spokenDuration writes micros as hours, minutes and seconds: "1 h 05 min", "0 h 45 min 30 s".
func spokenDuration(micros int64) string {
	s := micros / microsPerSecond
	out := fmt.Sprintf("%d h %02d min", s/3600, s/60%60)
	if s%60 != 0 {
		out += fmt.Sprintf(" %02d s", s%60)
	}
	return out
}
