namespace JetNative; internal static class Placeholder {}
