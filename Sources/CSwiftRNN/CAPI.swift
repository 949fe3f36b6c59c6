import SwiftRNN
