//! Metric identity and `ListMetrics` filters.
//!
//! CloudWatch identifies a metric by namespace, metric name and its full set
//! of dimensions; the order the dimensions were given in does not matter, so
//! [`MetricId`] keeps them sorted by name.

use crate::{Dimension, MonitorError};

/// CloudWatch limits (API Reference, `Dimension`, `MetricDatum`,
/// `PutMetricData`): names and values 1 to 255 characters, at most 30
/// dimensions per metric.
pub const MAX_NAME_CHARS: usize = 255;
pub const MAX_DIMENSIONS: usize = 30;

/// (namespace, metric name, dimensions sorted by name).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricId {
    namespace: String,
    metric_name: String,
    dimensions: Vec<Dimension>,
}

fn check_name(member: &'static str, s: &str) -> Result<(), MonitorError> {
    let n = s.chars().count();
    if n == 0 || n > MAX_NAME_CHARS {
        return Err(MonitorError::invalid(
            member,
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

impl MetricId {
    /// Validate and sort. Refuses empty or over-long names and values, more
    /// than 30 dimensions, and a dimension name given twice.
    pub fn new(
        namespace: impl Into<String>,
        metric_name: impl Into<String>,
        mut dimensions: Vec<Dimension>,
    ) -> Result<Self, MonitorError> {
        let namespace = namespace.into();
        let metric_name = metric_name.into();
        check_name("Namespace", &namespace)?;
        check_name("MetricName", &metric_name)?;
        if dimensions.len() > MAX_DIMENSIONS {
            return Err(MonitorError::invalid(
                "Dimensions",
                format!("at most {MAX_DIMENSIONS} dimensions"),
            ));
        }
        for d in &dimensions {
            check_name("Dimensions.Name", &d.name)?;
            check_name("Dimensions.Value", &d.value)?;
        }
        dimensions.sort();
        if dimensions.windows(2).any(|w| match w {
            [a, b] => a.name == b.name,
            _ => false,
        }) {
            return Err(MonitorError::invalid(
                "Dimensions",
                "a dimension name may appear only once",
            ));
        }
        Ok(Self {
            namespace,
            metric_name,
            dimensions,
        })
    }

    /// Bytes this identity holds on the heap (its strings and dimension
    /// list), for [`super::Store::memory_bytes`].
    pub(crate) fn heap_bytes(&self) -> usize {
        self.namespace.capacity()
            + self.metric_name.capacity()
            + self.dimensions.capacity() * std::mem::size_of::<Dimension>()
            + self
                .dimensions
                .iter()
                .map(|d| d.name.capacity() + d.value.capacity())
                .sum::<usize>()
    }

    /// The metric an alarm watches.
    pub fn of_alarm(def: &crate::AlarmDefinition) -> Result<Self, MonitorError> {
        Self::new(
            def.namespace.clone(),
            def.metric_name.clone(),
            def.dimensions.clone(),
        )
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn metric_name(&self) -> &str {
        &self.metric_name
    }

    /// Sorted by name.
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }
}

/// A `ListMetrics` `DimensionFilter`: a dimension name, and optionally the
/// value it must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DimensionFilter {
    pub name: String,
    pub value: Option<String>,
}

/// The `ListMetrics` filters: every one given must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricFilter {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    /// Each filter must match one of the metric's dimensions.
    pub dimensions: Vec<DimensionFilter>,
}

impl MetricFilter {
    pub fn matches(&self, id: &MetricId) -> bool {
        self.namespace.as_ref().is_none_or(|n| *n == id.namespace)
            && self
                .metric_name
                .as_ref()
                .is_none_or(|n| *n == id.metric_name)
            && self.dimensions.iter().all(|f| {
                id.dimensions
                    .iter()
                    .any(|d| d.name == f.name && f.value.as_ref().is_none_or(|v| *v == d.value))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(name: &str, value: &str) -> Dimension {
        Dimension {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn dimension_order_does_not_matter() {
        let a = MetricId::new("ns", "m", vec![dim("b", "2"), dim("a", "1")]);
        let b = MetricId::new("ns", "m", vec![dim("a", "1"), dim("b", "2")]);
        assert!(a.is_ok());
        assert_eq!(a, b);
    }

    #[test]
    fn refuses_bad_identities_by_member() {
        let cases = [
            MetricId::new("", "m", vec![]),
            MetricId::new("ns", "x".repeat(256), vec![]),
            MetricId::new("ns", "m", vec![dim("a", "1"), dim("a", "2")]),
            MetricId::new("ns", "m", vec![dim("a", "")]),
            MetricId::new(
                "ns",
                "m",
                (0..31).map(|i| dim(&i.to_string(), "v")).collect(),
            ),
        ];
        let members = [
            "Namespace",
            "MetricName",
            "Dimensions",
            "Dimensions.Value",
            "Dimensions",
        ];
        for (case, member) in cases.iter().zip(members) {
            let err = case.as_ref().err().map(ToString::to_string);
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.starts_with(&format!("{member}: "))),
                "{err:?}"
            );
        }
    }
}
