package storage

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/event"
)

// storeErrors counts failed store operations by store ("documents",
// "objects"), for /metrics.
type storeErrors struct {
	docs, objects prometheus.Counter
}

func newStoreErrors(reg prometheus.Registerer) *storeErrors {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nuanxin_store_errors_total",
		Help: "Failed store operations by store.",
	}, []string{"store"})
	if reg != nil {
		reg.MustRegister(v)
	}
	return &storeErrors{docs: v.WithLabelValues("documents"), objects: v.WithLabelValues("objects")}
}

// monitor counts failed document-store commands.
func (m *storeErrors) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Failed: func(context.Context, *event.CommandFailedEvent) { m.docs.Inc() },
	}
}

func (m *storeErrors) object(err error) error {
	if err != nil && m != nil {
		m.objects.Inc()
	}
	return err
}
