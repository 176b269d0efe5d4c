//! Coordinates and great-circle distance, for "nearest store first".

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

impl Coordinates {
    /// Parses the `near=LAT,LNG` query parameter.
    pub fn parse_near(raw: &str) -> Result<Self, ApiError> {
        let (latitude, longitude) = crate::http::formats::parse_near(raw).ok_or_else(|| {
            ApiError::validation("near", "must be LAT,LNG in plain decimal degrees, e.g. 52.2297,21.0122")
        })?;
        Ok(Coordinates { latitude, longitude })
    }

    /// Haversine distance in kilometres, rounded to metres.
    pub fn distance_km(&self, other: &Coordinates) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0088;
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dlat = lat2 - lat1;
        let dlng = (other.longitude - self.longitude).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
        let km = 2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin();
        (km * 1000.0).round() / 1000.0
    }
}

pub fn coordinates(latitude: Option<f64>, longitude: Option<f64>) -> Option<Coordinates> {
    Some(Coordinates { latitude: latitude?, longitude: longitude? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warsaw_to_krakow_is_about_252_km() {
        let warsaw = Coordinates { latitude: 52.2297, longitude: 21.0122 };
        let krakow = Coordinates { latitude: 50.0647, longitude: 19.9450 };
        let d = warsaw.distance_km(&krakow);
        assert!((251.0..254.0).contains(&d), "{d}");
        assert_eq!(warsaw.distance_km(&warsaw), 0.0);
    }

    #[test]
    fn near_is_validated() {
        assert!(Coordinates::parse_near("52.2,21.0").is_ok());
        assert!(Coordinates::parse_near("91,0").is_err());
        assert!(Coordinates::parse_near("abc").is_err());
        assert!(Coordinates::parse_near("1,2,3").is_err());
    }
}
