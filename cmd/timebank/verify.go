package main

import "errors"

// verifyCmd is a placeholder until its issue lands.
type verifyCmd struct{}

// Run is not implemented yet.
func (c *verifyCmd) Run() error { return errors.New("verify: not implemented yet") }
