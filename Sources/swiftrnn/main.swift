import SwiftRNN
print(SwiftRNNVersion.string)
