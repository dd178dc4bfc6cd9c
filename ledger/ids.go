package ledger

import "strings"

// maxNameLength is the longest NAME of an account id (SPEC §2).
const maxNameLength = 64

// ParseAccountID checks s as an account id that can be opened or referenced: KIND:NAME with
// a known kind, NAME matching ^[a-z0-9][a-z0-9._-]{0,63}$ and holding no personal data (a
// PRC resident identity number or a mainland mobile number). Issuer ids (issuer:ASSET) are
// accepted only when allowIssuer is set; they never match the NAME rule. Errors are
// *Error invalid_account.
func ParseAccountID(s string, allowIssuer bool) (AccountID, error) {
	kind, name, ok := strings.Cut(s, ":")
	if !ok {
		return "", badAccount(s, "write it as KIND:NAME, e.g. resident:v1024")
	}
	switch Kind(kind) {
	case KindResident, KindStation, KindOutlet, KindPool:
	case KindIssuer:
		if allowIssuer && (name == AssetHours || name == AssetPoints) {
			return AccountID(s), nil
		}
		return "", badAccount(s, "issuer accounts are created at genesis and cannot be named here")
	default:
		return "", badAccount(s, "the kind must be resident, station, outlet or pool")
	}
	if !validName(name) {
		return "", badAccount(s, "NAME must be 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
	}
	if IsPRCResidentID(name) || IsMainlandMobile(name) {
		return "", badAccount(s, "NAME looks like an identity or mobile number; use a pseudonym such as a volunteer number")
	}
	return AccountID(s), nil
}

func badAccount(s, why string) *Error {
	shown := s
	if len(shown) > 80 {
		shown = shown[:80] + "…"
	}
	return Errorf(CodeInvalidAccount, "Account id %q is not valid: %s.", shown, why).With("account", shown)
}

// validName reports whether s matches ^[a-z0-9][a-z0-9._-]{0,63}$.
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLength || !isLowerAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLowerAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// IsPRCResidentID reports whether s is an 18-character PRC resident identity number: 17
// digits and a check character (ISO 7064 MOD 11-2, 'x' for 10; names are lower case).
func IsPRCResidentID(s string) bool {
	if len(s) != 18 {
		return false
	}
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		if !isDigit(s[i]) {
			return false
		}
		sum += int(s[i]-'0') * weights[i]
	}
	check := "10x98765432"[sum%11]
	return s[17] == check
}

// IsMainlandMobile reports whether s is an 11-digit mainland mobile number: 1, then 3-9,
// then 9 digits.
func IsMainlandMobile(s string) bool {
	if len(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9' {
		return false
	}
	for i := 2; i < 11; i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
