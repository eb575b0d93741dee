package metrics

// SetRuntimeUp records whether the container runtime (Docker or Podman API)
// answered the last request: devarch_runtime_up is 1 or 0.
func (m *Metrics) SetRuntimeUp(up bool) {
	if m == nil {
		return
	}
	m.runtimeUp.Set(boolValue(up))
}

// SetDatabaseUp records whether PostgreSQL answered the last request:
// devarch_database_up is 1 or 0.
func (m *Metrics) SetDatabaseUp(up bool) {
	if m == nil {
		return
	}
	m.databaseUp.Set(boolValue(up))
}
