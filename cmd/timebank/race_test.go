//go:build race

package main

func init() { raceBinary = true }
