public enum SwiftRNNVersion { public static let string = "0.2.0"; public static let number: Int32 = 200 }
