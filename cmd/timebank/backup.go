package main

import "errors"

// backupCmd is a placeholder until its issue lands.
type backupCmd struct{}

// Run is not implemented yet.
func (c *backupCmd) Run() error { return errors.New("backup: not implemented yet") }
