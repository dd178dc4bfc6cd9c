package main

import "errors"

// loadgenCmd is a placeholder until its issue lands.
type loadgenCmd struct{}

// Run is not implemented yet.
func (c *loadgenCmd) Run() error { return errors.New("loadgen: not implemented yet") }
