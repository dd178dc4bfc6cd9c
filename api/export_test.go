package api

// ManyKeys is manyKeys for the tests of package api_test.
func ManyKeys(prefix, value string) string { return string(manyKeys(prefix, value)) }
