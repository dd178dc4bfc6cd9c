package main

import "errors"

// tokenCmd is a placeholder until its issue lands.
type tokenCmd struct{}

// Run is not implemented yet.
func (c *tokenCmd) Run() error { return errors.New("token: not implemented yet") }
