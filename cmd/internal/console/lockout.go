package console

import "time"

// lockout throttles password guessing on the console: after maxFailures
// failed logins in a row the console refuses logins for base, doubling with
// each further lockout up to ceiling, until a login succeeds. It is shared
// by all sessions of a Console, so reconnecting does not reset it. It does
// no I/O and takes the time as input.
type lockout struct {
	maxFailures int
	base        time.Duration
	ceiling     time.Duration
	failures    int // since the last success or lockout
	lockouts    int // since the last success
	until       time.Time
}

// remaining is how long logins are still refused at now.
func (l *lockout) remaining(now time.Time) time.Duration {
	if now.Before(l.until) {
		return l.until.Sub(now)
	}
	return 0
}

// fail records a failed login at now and returns the lockout it starts, or
// 0 if it starts none.
func (l *lockout) fail(now time.Time) time.Duration {
	l.failures++
	if l.failures < l.maxFailures {
		return 0
	}
	d := l.base
	for i := 0; i < l.lockouts && d < l.ceiling; i++ {
		d *= 2
	}
	d = min(d, l.ceiling)
	l.failures = 0
	l.lockouts++
	l.until = now.Add(d)
	return d
}

func (l *lockout) succeed() { l.failures, l.lockouts = 0, 0 }
