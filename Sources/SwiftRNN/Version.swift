public enum SwiftRNNVersion { public static let string = "0.1.0"; public static let number: Int32 = 100 }
